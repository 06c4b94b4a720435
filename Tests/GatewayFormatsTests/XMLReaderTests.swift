import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayFormats

@Suite("XML reader: safe by default", .serialized)
struct XMLReaderTests {
    static let anySpec = XMLRecordSpec(recordPath: [QName(namespace: nil, local: "root"), QName(namespace: nil, local: "item")])

    static var attackFiles: [String] {
        let base = Fixtures.path("xml-attacks")
        var out: [String] = []
        for dir in ["defusedxml", "libxml2", "PayloadsAllTheThings"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: base + "/" + dir)) ?? [] {
                let path = "\(base)/\(dir)/\(name)"
                let isAttack = name.hasSuffix(".xml") || name == "Deny Of Service - Billion Laugh Attack"
                if isAttack && name != "simple.xml" { out.append(path) }
            }
        }
        return out.sorted()
    }

    @Test func theAttackCorpusIsThere() {
        #expect(Self.attackFiles.count >= 18)
    }

    @Test(arguments: attackFiles)
    func everyAttackIsRefusedWithoutLoadingAnything(_ path: String) throws {
        let before = XMLStreamReader.externalLoadAttempts
        #expect(throws: XMLFileError.self) {
            try XMLStreamReader.records(path: path, spec: Self.anySpec) { _ in }
        }
        #expect(XMLStreamReader.externalLoadAttempts == before)
    }

    @Test func theHarmlessControlDocumentParses() throws {
        var n = 0
        try XMLStreamReader.records(
            path: Fixtures.path("xml-attacks/defusedxml/simple.xml"),
            spec: XMLRecordSpec(recordPath: [QName(namespace: nil, local: "root")])
        ) { _ in n += 1 }
        #expect(n == 1)
    }

    @Test func anExternalEntityNeverReadsTheLocalFile() throws {
        let dir = Fixtures.tempDir()
        let canary = dir + "/canary.txt"
        try Fixtures.write("CANARY-7f3a9 secret content", canary)
        let original = try String(contentsOfFile: Fixtures.path("xml-attacks/defusedxml/external_file.xml"), encoding: .utf8)
        let doc = original.replacingOccurrences(of: "/PATH/TO/xmltestdata/simple.xml", with: canary)
        #expect(doc.contains(canary))
        try Fixtures.write(doc, dir + "/attack.xml")
        var texts: [String] = []
        do {
            try XMLStreamReader.records(path: dir + "/attack.xml", spec: XMLRecordSpec(recordPath: [QName(namespace: nil, local: "root")]))
            {
                texts.append(XMLRecordView.content(of: $0.node))
            }
            Issue.record("the document was accepted")
        } catch let e as XMLFileError {
            #expect(e.message.contains("DOCTYPE"))
            #expect(!e.description.contains("CANARY"))
        }
        #expect(texts.allSatisfy { !$0.contains("CANARY") })
    }

    @Test func noConnectionIsOpenedForAnExternalDTDOrEntity() throws {
        // A real listener on loopback: if the parser tried to fetch, a connection would be waiting.
        let (fd, port) = try ChildProcess.loopbackSocket()
        defer { close(fd) }
        #expect(listen(fd, 4) == 0)
        let dir = Fixtures.tempDir()
        let docs = [
            "<?xml version=\"1.0\"?><!DOCTYPE root SYSTEM \"http://127.0.0.1:\(port)/x.dtd\"><root><item/></root>",
            "<?xml version=\"1.0\"?><!DOCTYPE root [<!ENTITY e SYSTEM \"http://127.0.0.1:\(port)/e\">]><root><item>&e;</item></root>",
            "<?xml version=\"1.0\"?><!DOCTYPE root [<!ENTITY % p SYSTEM \"http://127.0.0.1:\(port)/p\"> %p;]><root/>",
            "<?xml version=\"1.0\"?><root xmlns:xi=\"http://www.w3.org/2001/XInclude\"><item><xi:include href=\"http://127.0.0.1:\(port)/i\"/></item></root>",
        ]
        for (i, doc) in docs.enumerated() {
            try Fixtures.write(doc, "\(dir)/d\(i).xml")
            _ = try? XMLStreamReader.records(path: "\(dir)/d\(i).xml", spec: Self.anySpec) { _ in }
        }
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        let accepted = accept(fd, nil, nil)
        #expect(accepted < 0, "the parser connected to the loopback listener")
        if accepted >= 0 { close(accepted) }
    }

    @Test func anUndeclaredEntityIsAnError() throws {
        let dir = Fixtures.tempDir()
        try Fixtures.write("<root><item>&undeclared;</item></root>", dir + "/e.xml")
        #expect(throws: XMLFileError.self) { try XMLStreamReader.records(path: dir + "/e.xml", spec: Self.anySpec) { _ in } }
    }

    @Test func malformedXMLIsReportedWithItsLine() throws {
        let dir = Fixtures.tempDir()
        try Fixtures.write("<root>\n<item>1</item>\n<item>2</itm>\n</root>\n", dir + "/m.xml")
        do {
            try XMLStreamReader.records(path: dir + "/m.xml", spec: Self.anySpec) { _ in }
            Issue.record("accepted")
        } catch let e as XMLFileError {
            #expect(e.line == 3)
            #expect(e.message.lowercased().contains("mismatch") || e.message.contains("itm"))
        }
    }

    @Test func namespacesAreMatchedByURINotPrefix() throws {
        let dir = Fixtures.tempDir()
        try Fixtures.write(
            """
            <x:Export xmlns:x="urn:a" xmlns:y="urn:b" code="E1">
              <x:Noise><x:Item>not a record: wrong parent</x:Item></x:Noise>
              <y:Item>not a record: wrong namespace</y:Item>
              <x:Item n="1"><x:V>one</x:V></x:Item>
              <Item n="2"/>
              <z:Item xmlns:z="urn:a" n="3"><z:V>three</z:V></z:Item>
            </x:Export>
            """, dir + "/ns.xml")
        let a = "urn:a"
        let spec = XMLRecordSpec(
            recordPath: [QName(namespace: a, local: "Export"), QName(namespace: a, local: "Item")],
            documentAttributes: [
                "/x:Export/@code": DocumentAttribute(
                    elements: [QName(namespace: a, local: "Export")], attribute: QName(namespace: nil, local: "code"))
            ])
        var got: [(String?, String?, Int, String?)] = []
        let valuePath = XMLPath(steps: [.child(QName(namespace: a, local: "V"))], attribute: nil, text: "x:V")
        let nPath = XMLPath(steps: [], attribute: QName(namespace: nil, local: "n"), text: "@n")
        try XMLStreamReader.records(path: dir + "/ns.xml", spec: spec) { r in
            got.append((r.value(nPath), r.value(valuePath), r.line, r.documentValues["/x:Export/@code"]))
        }
        #expect(got.map(\.0) == ["1", "3"])
        #expect(got.map(\.1) == ["one", "three"])
        #expect(got.map(\.2) == [4, 6])
        #expect(got.allSatisfy { $0.3 == "E1" })
    }
}
