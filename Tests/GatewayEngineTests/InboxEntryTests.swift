import Foundation
import GatewayFiles
import GatewayTestSupport
import Testing

@testable import GatewayCore
@testable import GatewayEngine

/// What lies in the inbox and is not a file the gateway can take (issue 25: a file it could not
/// read, or a name too long to quarantine, made every run exit 1 and the other files wait):
/// left where it is, shown to integration while it stays, and the rest of the run goes on.
@Suite("Inbox entries that cannot be taken, and names too long to keep")
struct InboxEntryTests {
    static let sale = "intranet/SALES_ES-MAD-01_20261001233000.xml"

    @Test func aFIFOALinkToNothingAndALinkToAFolderAreLeftAndShownWhileTheyStay() throws {
        let box = try Sandbox()
        try box.drop([Self.sale])
        #expect(mkfifo(box.inbox + "/settlement_20261002.csv", 0o644) == 0)
        #expect(symlink(box.root + "/nowhere.csv", box.inbox + "/settlement_20261003.csv") == 0)
        #expect(symlink(box.root, box.inbox + "/elsewhere") == 0)

        let s = try box.run(asOf: "2026-10-01T23:45:00Z")
        #expect(s.files.map(\.outcome) == [.ingested], "the sale is taken in")
        let found = try box.gateway().exceptions(asOf: Timestamp.parseISO("2026-10-01T23:45:00Z")!)
            .filter { $0.rule == "inbox_entry_unreadable" }
        #expect(Set(found.map(\.subject)) == ["settlement_20261002.csv", "settlement_20261003.csv", "elsewhere"])
        #expect(found.allSatisfy { $0.owner == .integration })
        #expect(found.first { $0.subject == "settlement_20261002.csv" }?.detail.contains("a FIFO") == true)
        #expect(found.first { $0.subject == "settlement_20261003.csv" }?.detail.contains("a link to nothing") == true)
        #expect(s.newExceptionsByRule["inbox_entry_unreadable"] == 3, "new: cron hears of it once")
        // Left in place.
        var st = stat()
        #expect(lstat(box.inbox + "/settlement_20261002.csv", &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO)

        // The next run shows them again, as open, not new.
        let again = try box.run(asOf: "2026-10-02T23:45:00Z")
        #expect(again.newExceptionsByRule["inbox_entry_unreadable"] == nil)
        #expect(again.exceptionsByRule?["inbox_entry_unreadable"] == 3)

        // Gone: resolved.
        unlink(box.inbox + "/settlement_20261002.csv")
        unlink(box.inbox + "/settlement_20261003.csv")
        unlink(box.inbox + "/elsewhere")
        let after = try box.run(asOf: "2026-10-03T23:45:00Z")
        #expect(after.exceptionsByRule?["inbox_entry_unreadable"] == nil)
    }

    @Test func aNameOfTwoHundredFiftyFiveBytesIsQuarantinedUnderABoundedNameAndTheRunGoesOn() throws {
        let box = try Sandbox()
        try box.drop([Self.sale])
        // 251 bytes of two-byte characters and digits, then ".bin": NAME_MAX exactly.
        let name = String(repeating: "é", count: 125) + "7.bin"
        #expect(name.utf8.count == 255)
        try "not a partner file".write(toFile: box.inbox + "/" + name, atomically: true, encoding: .utf8)

        let s = try box.run(asOf: "2026-10-01T23:45:00Z")
        #expect(s.files.count == 2, "\(s.files)")
        #expect(s.files.contains { $0.outcome == .ingested }, "the sale is taken in")
        let refused = try #require(s.files.first { $0.outcome == .unrecognised })
        #expect(refused.name == name, "the outcome keeps the whole name")
        let kept = box.files(under: box.config.quarantineDir)
        let copy = try #require(kept.first { !$0.hasSuffix(".reason.txt") })
        #expect((copy as NSString).lastPathComponent.utf8.count <= AtomicFile.maxKeptNameBytes)
        #expect(copy.hasSuffix(".bin") && copy.contains("~" + refused.hash.prefix(12)))
        let reason = try String(contentsOfFile: box.config.quarantineDir + "/" + copy + ".reason.txt", encoding: .utf8)
        #expect(reason.contains("file: \(name)"), "the reason file keeps the original name")
        #expect(try box.gateway().storeForQueries.ledgerEntry(hash: refused.hash)?.name == name, "and so does the ledger")
        #expect(!FileManager.default.fileExists(atPath: box.inbox + "/" + name))
    }

    @Test func boundedNamesKeepTheirStartTheirExtensionAndWholeCharacters() {
        #expect(AtomicFile.boundedName("SALES_1.xml", tag: "abc") == "SALES_1.xml")
        let long = String(repeating: "ñ", count: 120) + ".xml"  // 244 bytes
        let b = AtomicFile.boundedName(long, tag: "0123456789ab")
        #expect(b.utf8.count <= AtomicFile.maxKeptNameBytes)
        #expect(b.hasPrefix("ññ") && b.hasSuffix("~0123456789ab.xml"))
        #expect(String(validating: Array(b.utf8), as: UTF8.self) != nil)
        let noExtension = AtomicFile.boundedName(String(repeating: "a", count: 255), tag: "t")
        #expect(noExtension.utf8.count == AtomicFile.maxKeptNameBytes && noExtension.hasSuffix("~t"))
    }
}
