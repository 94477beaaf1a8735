import Foundation
import PackagePlugin

/// Writes `BuildInfo.swift` (the git commit the binary is built from) before every build of the
/// `lassoboot` target, so `lassoboot --version` names its commit without a tracked file that
/// each build would modify. The file is rewritten only when the commit changes, so incremental
/// builds stay incremental. Outside a git checkout (a source tarball, the image's build stage)
/// the commit comes from `LASSOBOOT_COMMIT`, else it is "unknown".
@main
struct BuildInfo: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let out = context.pluginWorkDirectoryURL.appendingPathComponent("generated")
        let script = #"""
            set -u
            pkg=$1; out=$2; fallback=$3
            mkdir -p "$out"
            commit=$(git -C "$pkg" rev-parse --short=12 HEAD 2>/dev/null) || commit=""
            if [ -n "$commit" ]; then
                git -C "$pkg" diff --quiet HEAD -- Sources Package.swift Package.resolved 2>/dev/null || commit="$commit-dirty"
            else
                commit=${fallback:-unknown}
            fi
            printf '/// The git commit this binary was built from (see Plugins/BuildInfo).\nlet buildCommit = "%s"\n' "$commit" >"$out/BuildInfo.swift.new"
            if cmp -s "$out/BuildInfo.swift.new" "$out/BuildInfo.swift"; then rm -f "$out/BuildInfo.swift.new"; else mv -f "$out/BuildInfo.swift.new" "$out/BuildInfo.swift"; fi
            """#
        let fallback = ProcessInfo.processInfo.environment["LASSOBOOT_COMMIT"] ?? ""
        return [.prebuildCommand(displayName: "lassoboot build info (git commit)",
                                 executable: URL(fileURLWithPath: "/bin/sh"),
                                 arguments: ["-c", script, "sh", context.package.directoryURL.path, out.path, fallback],
                                 outputFilesDirectory: out)]
    }
}
