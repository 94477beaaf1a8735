import Foundation

/// A JSON value: the one model of a job spec as a document, read by ``JSONNode`` (with key
/// paths in errors) and rewritten by the CLI and the coordinator (overrides, the data's hash).
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .number(d): try c.encode(d)
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }

    /// Parses a JSON document.
    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// The document's bytes, keys sorted (the same value always gives the same bytes).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    /// An object's member (`nil` for a missing key or a value that is not an object); setting a
    /// member of a non-object makes it an object.
    public subscript(key: String) -> JSONValue? {
        get {
            guard case let .object(o) = self else { return nil }
            return o[key]
        }
        set {
            var o: [String: JSONValue] = [:]
            if case let .object(existing) = self { o = existing }
            o[key] = newValue
            self = .object(o)
        }
    }

    /// An object's member, `defaultValue` where it is missing (for updating in place).
    public subscript(key: String, default defaultValue: JSONValue) -> JSONValue {
        get { self[key] ?? defaultValue }
        set { self[key] = newValue }
    }

    /// Whether the value is a JSON object.
    public var isObject: Bool {
        if case .object = self { return true }
        return false
    }
}

/// A JSON value together with its key path, for reading hand-written specs with errors that
/// say exactly where the problem is (`features[3].encoding.levels: expected an array of strings`).
public struct JSONNode: Sendable {
    /// The parsed value.
    public let value: JSONValue
    /// Key path from the document root, e.g. `bootstrap.methods[2]`.
    public let path: String
    /// The document, for error messages.
    public let source: String

    /// Parses a JSON document.
    public static func parse(_ data: Data, source: String) throws -> JSONNode {
        do {
            return JSONNode(value: try JSONDecoder().decode(JSONValue.self, from: data), path: "", source: source)
        } catch let DecodingError.dataCorrupted(context) {
            let detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? context.debugDescription
            throw TabularError(file: source, message: "not valid JSON: \(detail)")
        } catch {
            throw TabularError(file: source, message: "not valid JSON: \(error)")
        }
    }

    /// An error located at this node.
    public func error(_ message: String) -> TabularError {
        TabularError(file: source, message: "\(path.isEmpty ? "(top level)" : path): \(message)")
    }

    func child(_ value: JSONValue, _ key: String) -> JSONNode {
        JSONNode(value: value, path: path.isEmpty ? key : "\(path).\(key)", source: source)
    }

    var typeName: String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// The members of an object; any key not in `allowed` is an error naming the allowed keys.
    public func object(allowed: [String]) throws -> [String: JSONNode] {
        guard case let .object(dict) = value else { throw error("expected an object, found \(typeName)") }
        var result: [String: JSONNode] = [:]
        for key in dict.keys.sorted() {
            guard allowed.contains(key) else {
                throw child(dict[key]!, key).error("unknown key; allowed keys here are \(allowed.joined(separator: ", "))")
            }
            result[key] = child(dict[key]!, key)
        }
        return result
    }

    /// Whether the value is of the given JSON kind ("string", "number", "array", "object", ...).
    public var isString: Bool { if case .string = value { return true }; return false }
    public var isArray: Bool { if case .array = value { return true }; return false }
    public var isNumber: Bool { if case .number = value { return true }; return false }

    /// The elements of an array.
    public func array() throws -> [JSONNode] {
        guard case let .array(list) = value else { throw error("expected an array, found \(typeName)") }
        return list.enumerated().map { JSONNode(value: $0.element, path: "\(path)[\($0.offset)]", source: source) }
    }

    public func string() throws -> String {
        guard case let .string(s) = value else { throw error("expected a string, found \(typeName)") }
        return s
    }

    public func double() throws -> Double {
        guard case let .number(d) = value else { throw error("expected a number, found \(typeName)") }
        return d
    }

    public func int() throws -> Int {
        let d = try double()
        guard d == d.rounded(), abs(d) < 1e15 else { throw error("expected an integer, found \(d)") }
        return Int(d)
    }

    public func bool() throws -> Bool {
        guard case let .bool(b) = value else { throw error("expected true or false, found \(typeName)") }
        return b
    }

    /// A string that must be one of `choices`.
    public func choice(_ choices: [String]) throws -> String {
        let s = try string()
        guard choices.contains(s) else { throw error("'\(s)' is not one of \(choices.joined(separator: ", "))") }
        return s
    }

    public func strings() throws -> [String] { try array().map { try $0.string() } }
}

extension Dictionary where Key == String, Value == JSONNode {
    /// A required member, or an error naming it.
    public func required(_ key: String, in parent: JSONNode) throws -> JSONNode {
        guard let node = self[key] else { throw parent.error("missing required key '\(key)'") }
        return node
    }
}
