import Foundation
import GatewayFormats

/// Which mapping reads a file: by its name pattern, narrowed by the inbox folder it sits in
/// (`inbox/<feed>/`), and by content where several mappings claim the same name.
struct Recogniser {
    let mappings: [FeedMapping]

    enum Verdict {
        case feed(FeedMapping)
        case unrecognised(String)
    }

    func recognise(_ file: InboxFile) -> Verdict {
        var candidates = mappings.filter { $0.recognises(fileName: file.name) }
        if let folder = file.folder, let owner = mappings.first(where: { $0.feed == folder }) {
            guard candidates.contains(where: { $0.feed == owner.feed }) else {
                return .unrecognised(
                    "the name does not match feed \(owner.feed)'s pattern \(owner.namePattern.text), although the file is in its folder")
            }
            candidates = [owner]
        }
        if candidates.count > 1 {
            let head = Self.head(file.path)
            let byContent = candidates.filter { m in m.contentSignature.map { head.contains($0) } ?? false }
            if byContent.count == 1 { return .feed(byContent[0]) }
            return .unrecognised(
                "the name matches several feeds (\(candidates.map(\.feed).joined(separator: ", "))) and the content does not tell them apart; give each mapping a match.content"
            )
        }
        guard let only = candidates.first else {
            return .unrecognised("no mapping in mappings/feeds recognises this file name; add a mapping or put the file in inbox/<feed>/")
        }
        return .feed(only)
    }

    /// The first 4 KiB as text, for content signatures.
    static func head(_ path: String) -> String {
        guard let h = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? h.close() }
        let data = (try? h.read(upToCount: 4096)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
