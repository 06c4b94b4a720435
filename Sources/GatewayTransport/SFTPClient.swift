import CLibSSH2
import Foundation

/// A regular file or directory on the remote side.
public struct RemoteEntry: Sendable, Equatable {
    public let name: String
    public let size: Int64
    /// Modification time, whole seconds since 1970 (what SFTP v3 carries).
    public let mtime: Int64
    public let isRegularFile: Bool
    public let isDirectory: Bool
}

/// SFTP over one SSH session: the few operations the gateway needs. Reads and writes go in large
/// blocks, which libssh2 1.10 pipelines as several outstanding requests.
public final class SFTPClient {
    public let ssh: SSHSession
    let sftp: OpaquePointer
    /// Block size for transfers: big enough for libssh2 to keep many requests in flight.
    public static let blockSize = 1 << 20

    public init(_ endpoint: SSHEndpoint) throws {
        ssh = try SSHSession(endpoint)
        guard let s = libssh2_sftp_init(ssh.session) else {
            throw TransportError(.remote, "\(endpoint.label) has no SFTP subsystem: \(ssh.lastError())")
        }
        sftp = s
    }

    deinit { libssh2_sftp_shutdown(sftp) }

    func failure(_ what: String) -> TransportError {
        if ssh.lastErrorIsConnection() { return TransportError(.connection, "\(what): \(ssh.lastError())") }
        let code = libssh2_sftp_last_error(sftp)
        let names: [UInt: String] = [2: "no such file", 3: "permission denied", 4: "failure", 11: "file already exists"]
        let detail =
            libssh2_session_last_errno(ssh.session) == LIBSSH2_ERROR_SFTP_PROTOCOL
            ? (names[code] ?? "SFTP status \(code)") : ssh.lastError()
        return TransportError(.remote, "\(what): \(detail)")
    }

    /// SFTP status of the last failed call (2: no such file, 11: already exists).
    var lastStatus: UInt { libssh2_sftp_last_error(sftp) }

    public func list(_ directory: String) throws -> [RemoteEntry] {
        guard let handle = caas_sftp_opendir(sftp, directory) else { throw failure("cannot list \(directory)") }
        defer { _ = caas_sftp_close(handle) }
        var buffer = [CChar](repeating: 0, count: 4096)
        return try Self.collect {
            var attrs = LIBSSH2_SFTP_ATTRIBUTES()
            let n = caas_sftp_readdir(handle, &buffer, buffer.count, &attrs)
            if n < 0 { throw failure("cannot list \(directory)") }
            let name = String(decoding: buffer[0..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return ListedName(length: Int(n), hasAttributes: attrs.flags != 0, entry: Self.entry(name, attrs))
        }
    }

    /// One answer of readdir: how many bytes of name, whether attributes came with it.
    struct ListedName {
        let length: Int
        let hasAttributes: Bool
        let entry: RemoteEntry
    }

    /// The entries of a listing, read until its end. A length of 0 is the end, or an entry with
    /// an empty name: only an entry comes with attributes, and a hostile server's empty name must
    /// not hide the entries after it. `.` and `..` as directories are the folder's own entries;
    /// listed as anything else they are kept, for the caller to refuse and report.
    static func collect(_ next: () throws -> ListedName) rethrows -> [RemoteEntry] {
        var out: [RemoteEntry] = []
        while true {
            let n = try next()
            if n.length == 0 && !n.hasAttributes { break }
            if (n.entry.name == "." || n.entry.name == ".."), n.entry.isDirectory { continue }
            out.append(n.entry)
        }
        return out.sorted { $0.name < $1.name }
    }

    static func entry(_ name: String, _ a: LIBSSH2_SFTP_ATTRIBUTES) -> RemoteEntry {
        RemoteEntry(
            name: name, size: Int64(a.filesize), mtime: Int64(a.mtime),
            isRegularFile: caas_sftp_is_regular(a.permissions) != 0, isDirectory: caas_sftp_is_directory(a.permissions) != 0)
    }

    /// nil when the path does not exist.
    public func stat(_ path: String) throws -> RemoteEntry? {
        var attrs = LIBSSH2_SFTP_ATTRIBUTES()
        if caas_sftp_stat(sftp, path, &attrs) != 0 {
            if lastStatus == 2 { return nil }
            throw failure("cannot stat \(path)")
        }
        return Self.entry((path as NSString).lastPathComponent, attrs)
    }

    /// Copies a remote file into a local file (created, truncated) and returns the number of
    /// bytes; fsyncs it unless `durable` is false (the caller then syncs a batch at once).
    /// `block` sees each block as it arrives (to hash it without reading the file again);
    /// `progress` is called after each block with the bytes so far.
    ///
    /// With `expectedSize` (the listing's), reads are sized to the file and stop once that much
    /// has come: a 1 KiB file is one read request, not a pipeline of 1 MiB worth of requests
    /// past its end, and no extra round trip asks for an end of file the size already told.
    /// A file that grew meanwhile is cut at the size; the caller compares sizes after.
    @discardableResult
    public func download(
        _ remote: String, to local: String, expectedSize: Int64? = nil, durable: Bool = true,
        block: ((UnsafeRawBufferPointer) -> Void)? = nil, progress: ((Int64) throws -> Void)? = nil
    ) throws -> Int64 {
        guard let handle = caas_sftp_open(sftp, remote, UInt(LIBSSH2_FXF_READ), 0) else { throw failure("cannot open \(remote)") }
        defer { _ = caas_sftp_close(handle) }
        let fd = open(local, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TransportError(.local, "cannot create \(local): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: Self.blockSize)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            var ask = Self.blockSize
            if let expectedSize {
                if total >= expectedSize { break }
                ask = Int(min(Int64(Self.blockSize), expectedSize - total))
            }
            let n = libssh2_sftp_read(handle, buffer, ask)
            if n == 0 { break }
            if n < 0 { throw failure("transfer of \(remote) broke off after \(total) bytes") }
            var off = 0
            while off < n {
                let w = write(fd, buffer + off, n - off)
                if w < 0 {
                    if errno == EINTR { continue }
                    throw TransportError(.local, "cannot write \(local): \(String(cString: strerror(errno)))")
                }
                off += w
            }
            block?(UnsafeRawBufferPointer(start: buffer, count: n))
            total += Int64(n)
            try progress?(total)
        }
        if durable { guard fsync(fd) == 0 else { throw TransportError(.local, "cannot fsync \(local)") } }
        return total
    }

    /// Writes a local file to a remote path (created or truncated). Returns the bytes written.
    @discardableResult
    public func upload(_ local: String, to remote: String, progress: ((Int64) throws -> Void)? = nil) throws -> Int64 {
        let fd = open(local, O_RDONLY)
        guard fd >= 0 else { throw TransportError(.local, "cannot read \(local): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let flags = UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC)
        guard let handle = caas_sftp_open(sftp, remote, flags, Int(LIBSSH2_SFTP_S_IRUSR | LIBSSH2_SFTP_S_IWUSR | LIBSSH2_SFTP_S_IRGRP))
        else { throw failure("cannot create \(remote)") }
        defer { _ = caas_sftp_close(handle) }
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: Self.blockSize)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = read(fd, buffer, Self.blockSize)
            if n == 0 { break }
            if n < 0 { throw TransportError(.local, "cannot read \(local)") }
            var off = 0
            while off < n {
                let w = libssh2_sftp_write(handle, buffer + off, n - off)
                if w < 0 { throw failure("upload of \(remote) broke off after \(total + Int64(off)) bytes") }
                off += w
            }
            total += Int64(n)
            try progress?(total)
        }
        return total
    }

    /// Plain SFTP rename; fails when the target exists (OpenSSH's server does not overwrite).
    public func rename(_ from: String, to: String) throws {
        guard caas_sftp_rename(sftp, from, to) == 0 else { throw failure("cannot rename \(from) to \(to)") }
    }

    public func remove(_ path: String) throws {
        guard caas_sftp_unlink(sftp, path) == 0 else { throw failure("cannot remove \(path)") }
    }

    /// Creates the directory if it is missing.
    public func makeDirectory(_ path: String) throws {
        if try stat(path)?.isDirectory == true { return }
        guard caas_sftp_mkdir(sftp, path, Int(LIBSSH2_SFTP_S_IRWXU | LIBSSH2_SFTP_S_IRGRP | LIBSSH2_SFTP_S_IXGRP)) == 0 else {
            throw failure("cannot create directory \(path)")
        }
    }
}
