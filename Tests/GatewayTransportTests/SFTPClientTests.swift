import Foundation
import GatewayTestSupport
import Testing

@testable import GatewayTransport

@Suite("SFTP client against a real OpenSSH server", .serialized)
final class SFTPClientTests {
    let server: SSHDServer

    init() throws { server = try SSHDServer() }

    func endpoint(knownHosts: String? = nil, key: String? = nil, passphrase: String? = nil) -> SSHEndpoint {
        SSHEndpoint(
            host: "127.0.0.1", port: server.port, user: server.user, privateKey: key ?? server.clientKey,
            passphrase: passphrase, knownHosts: knownHosts ?? server.knownHosts, connectTimeout: 5, ioTimeout: 10)
    }

    @Test func listStatDownloadUploadRenameRemove() throws {
        let remote = Fixtures.tempDir("remote")
        try Fixtures.write("hello, gateway\n", remote + "/a.csv")
        try FileManager.default.createDirectory(atPath: remote + "/sub", withIntermediateDirectories: true)
        let c = try SFTPClient(endpoint())
        let entries = try c.list(remote)
        #expect(entries.map(\.name) == ["a.csv", "sub"])
        #expect(entries[0].isRegularFile && entries[0].size == 15 && !entries[0].isDirectory)
        #expect(entries[1].isDirectory)
        #expect(try c.stat(remote + "/missing") == nil)

        let local = Fixtures.tempDir("local")
        #expect(try c.download(remote + "/a.csv", to: local + "/a.csv") == 15)
        #expect(try String(contentsOfFile: local + "/a.csv", encoding: .utf8) == "hello, gateway\n")

        try c.upload(local + "/a.csv", to: remote + "/.b.part")
        try c.rename(remote + "/.b.part", to: remote + "/b.csv")
        #expect(try String(contentsOfFile: remote + "/b.csv", encoding: .utf8) == "hello, gateway\n")
        // Renaming onto an existing file fails on OpenSSH's server: callers must remove first.
        try c.upload(local + "/a.csv", to: remote + "/.c.part")
        #expect(throws: TransportError.self) { try c.rename(remote + "/.c.part", to: remote + "/b.csv") }
        try c.remove(remote + "/b.csv")
        try c.rename(remote + "/.c.part", to: remote + "/b.csv")
        try c.makeDirectory(remote + "/done")
        try c.makeDirectory(remote + "/done")  // already there: fine
        #expect(FileManager.default.fileExists(atPath: remote + "/done"))
    }

    @Test func largeFilesTransferWholeInPipelinedBlocks() throws {
        let remote = Fixtures.tempDir("remote")
        let size = 5 * SFTPClient.blockSize + 12345
        var bytes = [UInt8](repeating: 0, count: size)
        for i in 0..<size { bytes[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: remote + "/big.bin"))
        let c = try SFTPClient(endpoint())
        let local = Fixtures.tempDir("local")
        var calls = 0
        #expect(try c.download(remote + "/big.bin", to: local + "/big.bin") { _ in calls += 1 } == Int64(size))
        #expect(calls >= 6)
        #expect(try Data(contentsOf: URL(fileURLWithPath: local + "/big.bin")) == Data(bytes))
    }

    /// Reads sized to the listed size: the whole file when the size is right, the listed part
    /// when the file grew since (the puller then sees the size change and waits), and what there
    /// is when it shrank.
    @Test func aDownloadWithItsListedSizeReadsThatMuch() throws {
        let remote = Fixtures.tempDir("remote")
        let size = 2 * SFTPClient.blockSize + 777
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: remote + "/f.bin"))
        try Data(bytes.prefix(1024)).write(to: URL(fileURLWithPath: remote + "/small.bin"))
        let c = try SFTPClient(endpoint())
        let local = Fixtures.tempDir("local")
        let cases: [(listed: Int64, read: Int)] = [
            (Int64(size), size), (Int64(SFTPClient.blockSize + 5), SFTPClient.blockSize + 5), (Int64(size + 100), size),
        ]
        for (expected, got) in cases {
            #expect(try c.download(remote + "/f.bin", to: local + "/f.bin", expectedSize: expected, durable: false) == Int64(got))
            #expect(try Data(contentsOf: URL(fileURLWithPath: local + "/f.bin")) == Data(bytes.prefix(got)))
        }
        var blocks = 0
        #expect(try c.download(remote + "/small.bin", to: local + "/small.bin", expectedSize: 1024, block: { _ in blocks += 1 }) == 1024)
        #expect(blocks == 1)
    }

    @Test func anUnknownHostIsRefusedWithItsFingerprint() throws {
        let empty = Fixtures.tempDir("kh") + "/known_hosts"
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        do {
            _ = try SFTPClient(endpoint(knownHosts: empty))
            Issue.record("connected to an unknown host")
        } catch let e as TransportError {
            #expect(e.kind == .hostKey)
            #expect(e.message.contains("127.0.0.1:\(server.port) is not in"))
            #expect(e.message.contains("ssh-ed25519 SHA256:"))
        }
    }

    @Test func aChangedHostKeyIsRefused() throws {
        let old = try String(contentsOfFile: server.knownHosts, encoding: .utf8)
        try server.replaceHostKey()
        try old.write(toFile: server.knownHosts, atomically: true, encoding: .utf8)
        do {
            _ = try SFTPClient(endpoint())
            Issue.record("connected despite a changed host key")
        } catch let e as TransportError {
            #expect(e.kind == .hostKey)
            #expect(e.message.contains("has CHANGED"))
            #expect(e.message.contains("\(server.knownHosts):1"))
        }
        try server.writeKnownHosts()
        #expect(throws: Never.self) { _ = try SFTPClient(self.endpoint()) }
    }

    @Test func anEntryWithoutPortDoesNotVouchForAnotherPort() throws {
        let pub = try String(contentsOfFile: server.hostKey + ".pub", encoding: .utf8).split(separator: " ")
        let file = Fixtures.tempDir("kh") + "/known_hosts"
        try "127.0.0.1 \(pub[0]) \(pub[1])\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: TransportError.self) { _ = try SFTPClient(self.endpoint(knownHosts: file)) }
    }

    @Test func hashedKnownHostsEntriesAreHonoured() throws {
        let file = Fixtures.tempDir("kh") + "/known_hosts"
        try FileManager.default.copyItem(atPath: server.knownHosts, toPath: file)
        try SSHDServer.run("/usr/bin/ssh-keygen", ["-H", "-f", file])
        #expect(try String(contentsOfFile: file, encoding: .utf8).hasPrefix("|1|"))
        #expect(throws: Never.self) { _ = try SFTPClient(self.endpoint(knownHosts: file)) }
    }

    @Test func aKeyWithAPassphraseNeedsTheRightOne() throws {
        let locked = Fixtures.tempDir("key") + "/locked"
        try SSHDServer.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "s3cret", "-f", locked])
        let authorized = try String(contentsOfFile: server.dir + "/authorized_keys", encoding: .utf8)
        try (authorized + (try String(contentsOfFile: locked + ".pub", encoding: .utf8))).write(
            toFile: server.dir + "/authorized_keys", atomically: true, encoding: .utf8)
        #expect(throws: Never.self) { _ = try SFTPClient(self.endpoint(key: locked, passphrase: "s3cret")) }
        do {
            _ = try SFTPClient(endpoint(key: locked, passphrase: "wrong"))
            Issue.record("authenticated with a wrong passphrase")
        } catch let e as TransportError {
            #expect(e.kind == .authentication)
            #expect(!e.message.contains("wrong"))
        }
    }

    @Test func aClosedPortIsATransientConnectionError() throws {
        server.stop()
        do {
            _ = try SFTPClient(endpoint())
            Issue.record("connected to a stopped server")
        } catch let e as TransportError {
            #expect(e.isTransient)
        }
    }
}

@Suite struct KnownHostsMatchingTests {
    @Test func patternsFollowOpenSSH() {
        #expect(KnownHosts.matches("[sftp.bank.example]:2222", ["[sftp.bank.example]:2222"]))
        #expect(!KnownHosts.matches("[sftp.bank.example]:2222", ["sftp.bank.example"]))
        #expect(KnownHosts.matches("sftp.bank.example", ["*.bank.example"]))
        #expect(!KnownHosts.matches("sftp.bank.example", ["*.bank.example", "!sftp.bank.example"]))
        #expect(KnownHosts.matches("SFTP.Bank.Example", ["sftp.bank.exampl?"]))
        #expect(KnownHosts.wildcard("a*c", "abbbc") && !KnownHosts.wildcard("a*c", "abbbd"))
    }

    @Test func revokedKeysAreRefusedEvenWhenAlsoListed() {
        let key = Data([0, 0, 0, 11] + Array("ssh-ed25519".utf8) + [1, 2, 3])
        let b64 = key.base64EncodedString()
        let kh = KnownHosts(text: "@revoked * ssh-ed25519 \(b64)\n[h]:2222 ssh-ed25519 \(b64)\n")
        #expect(kh.verify(host: "h", port: 2222, key: key) == .revoked(line: 1))
        #expect(KnownHosts.keyType(of: key) == "ssh-ed25519")
        #expect(KnownHosts.fingerprint(key).hasPrefix("SHA256:"))
    }
}
