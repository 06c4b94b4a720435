import CLibSSH2
import Foundation

/// Where and how to connect. The private key is a file (ed25519 or ECDSA: libssh2 1.10 has no
/// rsa-sha2, so RSA keys are refused by current OpenSSH servers); its passphrase, if any, comes
/// from the configuration's secret reference, never from the file itself.
public struct SSHEndpoint: Sendable {
    public var host: String
    public var port: Int
    public var user: String
    public var privateKey: String
    public var passphrase: String?
    public var knownHosts: String
    public var connectTimeout: TimeInterval
    /// Longest wait for any single reply once connected.
    public var ioTimeout: TimeInterval

    public init(
        host: String, port: Int = 22, user: String, privateKey: String, passphrase: String? = nil, knownHosts: String,
        connectTimeout: TimeInterval = 10, ioTimeout: TimeInterval = 30
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.privateKey = privateKey
        self.passphrase = passphrase
        self.knownHosts = knownHosts
        self.connectTimeout = connectTimeout
        self.ioTimeout = ioTimeout
    }

    public var label: String { "\(user)@\(host):\(port)" }
}

/// One SSH connection: a TCP socket and a libssh2 session in blocking mode with a time-out,
/// host key verified before anything is sent, then public-key authentication. Blocking calls:
/// run it on a thread of its own, never on Swift's cooperative pool.
public final class SSHSession {
    let session: OpaquePointer
    let socket: Int32
    public let endpoint: SSHEndpoint
    /// Set once authenticated: only then is a disconnect message worth sending.
    private var established = false

    private static let initialised: Int32 = libssh2_init(0)

    public init(_ endpoint: SSHEndpoint) throws {
        _ = Self.initialised
        self.endpoint = endpoint
        let known = try KnownHosts(path: endpoint.knownHosts)
        socket = try Self.connect(host: endpoint.host, port: endpoint.port, timeout: endpoint.connectTimeout)
        guard let s = caas_ssh_session_init() else {
            close(socket)
            throw TransportError(.local, "cannot create an SSH session")
        }
        session = s
        // From here on the object is whole: if a step below throws, deinit frees the session
        // and closes the socket (Swift runs deinit for a class whose initializer fails late).
        libssh2_session_set_blocking(session, 1)
        libssh2_session_set_timeout(session, Int(endpoint.ioTimeout * 1000))
        // AES-128-CTR first: as safe as AES-256 here and faster per byte; libssh2 1.10 would
        // otherwise pick AES-256. Only CTR modes are offered (no CBC).
        for direction in [LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC] {
            _ = libssh2_session_method_pref(session, direction, "aes128-ctr,aes192-ctr,aes256-ctr")
        }
        guard libssh2_session_handshake(session, socket) == 0 else {
            throw TransportError(.connection, "SSH handshake with \(endpoint.host):\(endpoint.port) failed: \(lastError())")
        }
        try verifyHostKey(known)
        let rc =
            endpoint.passphrase.map { p in caas_ssh_auth_publickey_file(session, endpoint.user, endpoint.privateKey, p) }
            ?? caas_ssh_auth_publickey_file(session, endpoint.user, endpoint.privateKey, nil)
        guard rc == 0 else {
            throw TransportError(
                .authentication,
                "\(endpoint.label) refused the key \(endpoint.privateKey): \(lastError()) (is the public key in the partner's authorized keys? ed25519 or ECDSA only)"
            )
        }
        established = true
    }

    deinit {
        if established { _ = caas_ssh_session_disconnect(session, "caas-gateway done") }
        libssh2_session_free(session)
        close(socket)
    }

    func verifyHostKey(_ known: KnownHosts) throws {
        var length = 0
        var type: Int32 = 0
        guard let raw = libssh2_session_hostkey(session, &length, &type), length > 0 else {
            throw TransportError(.hostKey, "\(endpoint.host):\(endpoint.port) sent no host key")
        }
        let key = Data(bytes: raw, count: length)
        let offered = "\(KnownHosts.keyType(of: key)) \(KnownHosts.fingerprint(key))"
        let hostPort = "\(endpoint.host):\(endpoint.port)"
        switch known.verify(host: endpoint.host, port: endpoint.port, key: key) {
        case .trusted: return
        case .unknown:
            throw TransportError(
                .hostKey,
                "host \(hostPort) is not in \(known.path); it offers \(offered). Check that fingerprint with the partner, then add the key (ssh-keyscan -p \(endpoint.port) \(endpoint.host))."
            )
        case .changed(let types, let line):
            throw TransportError(
                .hostKey,
                "host key of \(hostPort) has CHANGED: \(known.path):\(line) holds another \(types.joined(separator: "/")) key, the server offers \(offered). Refusing to connect: this may be a man in the middle. Confirm with the partner before replacing the entry."
            )
        case .revoked(let line):
            throw TransportError(
                .hostKey, "host \(hostPort) offers a key revoked at \(known.path):\(line) (\(offered)); refusing to connect")
        }
    }

    func lastError() -> String {
        var msg: UnsafeMutablePointer<CChar>?
        var len: Int32 = 0
        let code = libssh2_session_last_error(session, &msg, &len, 0)
        return msg.map { String(cString: $0) } ?? "error \(code)"
    }

    /// The last error is a time-out or a dead socket: the network, not the configuration.
    func lastErrorIsConnection() -> Bool {
        let code = libssh2_session_last_errno(session)
        return [
            LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_TIMEOUT,
            LIBSSH2_ERROR_SOCKET_TIMEOUT, LIBSSH2_ERROR_BANNER_RECV, LIBSSH2_ERROR_KEX_FAILURE,
        ].contains(code)
    }

    /// TCP connect with a time-out: non-blocking connect, poll, then back to blocking.
    static func connect(host: String, port: Int, timeout: TimeInterval) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let gai = getaddrinfo(host, String(port), &hints, &res)
        guard gai == 0, let first = res else {
            throw TransportError(.connection, "cannot resolve \(host): \(String(cString: gai_strerror(gai)))")
        }
        defer { freeaddrinfo(res) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = Foundation.socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var rc = Foundation.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen)
            if rc != 0 && errno == EINPROGRESS {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                rc = poll(&pfd, 1, Int32(timeout * 1000)) == 1 ? 0 : -1
                if rc == 0 {
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                    if err != 0 {
                        rc = -1
                        errno = err
                    }
                } else {
                    errno = ETIMEDOUT
                }
            }
            if rc == 0 {
                _ = fcntl(fd, F_SETFL, flags)
                return fd
            }
            lastError = String(cString: strerror(errno))
            close(fd)
        }
        throw TransportError(.connection, "cannot connect to \(host):\(port): \(lastError)")
    }
}
