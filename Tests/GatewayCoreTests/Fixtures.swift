import Foundation

/// Test fixtures live in Tests/Fixtures (public samples) and samples/ (the partner story).
enum Fixtures {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ rel: String) -> String { repoRoot.appendingPathComponent("Tests/Fixtures/" + rel).path }

    static func json(_ rel: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path(rel))))
    }
}
