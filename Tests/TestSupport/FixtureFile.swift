import Foundation
import Testing

/// Files a test target keeps in its `Fixtures` folder, declared `resources: [.copy("Fixtures")]`:
/// recorded replies and such, read byte for byte.
public enum FixtureFile {
    /// The bytes of `Fixtures/<name>` in `bundle` (the test target's `Bundle.module`); a file that
    /// is not there fails the test and reads as nothing.
    public static func bytes(_ name: String, in bundle: Bundle, sourceLocation: SourceLocation = #_sourceLocation) -> [UInt8] {
        let url = bundle.resourceURL?.appendingPathComponent("Fixtures").appendingPathComponent(name)
        guard let url, let data = FileManager.default.contents(atPath: url.path) else {
            Issue.record("no fixture file \(name) in \(bundle.bundlePath)", sourceLocation: sourceLocation)
            return []
        }
        return Array(data)
    }

    /// `Fixtures/<name>` in `bundle` as UTF-8 text (see `bytes`).
    public static func text(_ name: String, in bundle: Bundle, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        String(decoding: bytes(name, in: bundle, sourceLocation: sourceLocation), as: UTF8.self)
    }
}
