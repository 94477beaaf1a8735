import CoordinatorAPI
import Foundation
import Logging

/// A swift-log handler that writes one JSON object per line (`--log-format json`), for log
/// collectors (journald, Kubernetes, Loki) that index fields rather than parse text.
///
/// Each line holds `time` (RFC 3339, UTC, milliseconds), `level`, `logger` (the label),
/// `message` and every metadata key as a string field (a key that would clash with those four
/// is prefixed with `meta.`).
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let write: @Sendable (String) -> Void

    /// - Parameter write: receives each line, newline included (default: standard error).
    public init(label: String, write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        var w = JSONWriter(capacity: 256)
        w.raw("{\"time\":"); w.string(Self.timestamp())
        w.raw(",\"level\":"); w.string(event.level.rawValue)
        w.raw(",\"logger\":"); w.string(label)
        w.raw(",\"message\":"); w.string(event.message.description)
        for key in fields.keys.sorted() {
            w.raw(","); w.string(["time", "level", "logger", "message"].contains(key) ? "meta." + key : key)
            w.raw(":"); w.string(fields[key]!.description)
        }
        w.raw("}\n")
        write(String(decoding: w.data, as: UTF8.self))
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
