import Foundation
import GatewayEngine
import GatewayTestSupport
import Testing

/// The deployable tarball (`scripts/package`, which `scripts/test` runs first) works on a
/// machine without the Swift toolchain: unpacked, its binary runs with the toolchain's folder
/// hidden (an empty directory mounted over it in a private mount namespace).
@Suite("The release tarball runs without the Swift toolchain", .serialized)
struct PackageTests {
    static var tarball: String {
        var u = utsname()
        uname(&u)
        let arch = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return Fixtures.repoRoot.appendingPathComponent(".build/package/caas-gateway-\(GatewayVersion.number)-linux-\(arch).tar.gz").path
    }

    /// Where the toolchain running these tests lives (`/opt/swift` for `/opt/swift/usr/bin/swift`).
    static var toolchainRoot: String {
        let swift =
            ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { $0 + "/swift" }
            .first { FileManager.default.isExecutableFile(atPath: String($0)) }.map(String.init) ?? "/opt/swift/usr/bin/swift"
        let resolved = URL(fileURLWithPath: swift).resolvingSymlinksInPath()
        return resolved.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static func sh(_ script: String, in dir: String) throws -> (code: Int32, out: String) {
        let r = try Command.run("/bin/sh", ["-c", script], in: dir)
        return (r.status, r.output)
    }

    @Test func theTarballHoldsWhatADeploymentNeedsAndRunsWithoutTheToolchain() throws {
        let tarball = Self.tarball
        try #require(FileManager.default.fileExists(atPath: tarball), "no \(tarball): run scripts/package (scripts/test does)")
        let dir = Fixtures.tempDir(#function)
        #expect(try Self.sh("tar -xzf '\(tarball)'", in: dir).code == 0)
        let root = dir + "/caas-gateway-\(GatewayVersion.number)"
        for part in [
            "bin/caas-gateway", "mappings/feeds/intranet-sales.yaml", "mappings/registration/es.yaml",
            "deploy/systemd/caas-gateway.service", "deploy/systemd/caas-gateway.timer", "deploy/secrets.env.example",
            "deploy/caas-gateway-cron",
        ] {
            #expect(FileManager.default.fileExists(atPath: root + "/" + part), "\(part)")
        }
        let service = try String(contentsOfFile: root + "/deploy/systemd/caas-gateway.service", encoding: .utf8)
        #expect(service.contains("EnvironmentFile=") && service.contains("ExecStart=/srv/caas-gateway/bin/caas-gateway run"))
        let timer = try String(contentsOfFile: root + "/deploy/systemd/caas-gateway.timer", encoding: .utf8)
        #expect(timer.contains("[Install]") && timer.contains("WantedBy=timers.target"))

        // No Swift library is loaded from anywhere.
        let ldd = try Self.sh("ldd bin/caas-gateway", in: root)
        #expect(ldd.code == 0 && !ldd.out.contains("libswift") && !ldd.out.contains("libFoundation"), "\(ldd.out)")
        // With the toolchain's folder hidden: the version, a validate of the shipped mappings and
        // a run on the embedded defaults over a story file.
        try FileManager.default.copyItem(
            atPath: Fixtures.story("intranet/SALES_ES-MAD-01_20261001233000.xml"),
            toPath: root + "/inbox/SALES_ES-MAD-01_20261001233000.xml")
        let empty = dir + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        // In a chroot (scripts/fresh-root) "/" is no mount point and its propagation cannot be
        // changed; there the toolchain is a bind mount of its own, made private in the namespace.
        let toolchain = Self.toolchainRoot
        let hidden = try Self.sh(
            """
            if mountpoint -q /; then set -- unshare --mount; pre=true; \
            else set -- unshare --mount --propagation unchanged; pre="mount --make-rprivate \(toolchain)"; fi
            "$@" sh -c "$pre && mount --bind '\(empty)' '\(toolchain)' && ls -A '\(toolchain)' | wc -l \
            && bin/caas-gateway --version && bin/caas-gateway validate && bin/caas-gateway run --as-of 2026-10-01T23:00:00Z --summary \
            && bin/caas-gateway orders"
            """, in: root)
        #expect(hidden.code == 0, "\(hidden.out)")
        let lines = hidden.out.split(separator: "\n").map(String.init)
        #expect(lines.first == "0", "the toolchain's folder is empty in there: \(hidden.out)")
        #expect(lines.contains(GatewayVersion.number), "\(hidden.out)")
        #expect(hidden.out.contains("S-2026-000101"), "\(hidden.out)")
    }
}
