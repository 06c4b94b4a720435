import Foundation
import GatewayCore

/// Test fixtures live in Tests/Fixtures (public samples) and samples/ (the partner story).
/// Shared by every test target; not part of the product.
public enum Fixtures {
    public static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    public static func path(_ rel: String) -> String { repoRoot.appendingPathComponent("Tests/Fixtures/" + rel).path }

    public static func json(_ rel: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path(rel))))
    }
}

extension Fixtures {
    public static func story(_ rel: String) -> String { repoRoot.appendingPathComponent("samples/partner-story/" + rel).path }
    public static var mappingsDir: String { repoRoot.appendingPathComponent("mappings/feeds").path }
    public static var registrationMappingsDir: String { repoRoot.appendingPathComponent("mappings/registration").path }

    /// Every day of the partner story, 1 Oct to 20 Nov 2026, as `YYYY-MM-DD`.
    public static var storyDays: [String] {
        var out: [String] = []
        var d = Timestamp.parseISO("2026-10-01")!
        while Timestamp.day(d) <= "2026-11-20" {
            out.append(Timestamp.day(d))
            d = d.addingTimeInterval(86400)
        }
        return out
    }

    /// A fresh scratch directory under the system's temporary directory, named after the test.
    public static func tempDir(_ name: String = #function) -> String {
        let dir =
            NSTemporaryDirectory()
            + "caas-tests-\(getpid())/\(name.filter { $0.isLetter || $0.isNumber })-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    public static func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }
}
