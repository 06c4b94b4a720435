#ifndef CAAS_CLIBSSH2_SHIM_H
#define CAAS_CLIBSSH2_SHIM_H
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <string.h>

// libssh2 exposes much of its API as function-like macros, which Swift cannot call.
// These are the same calls with explicit lengths, nothing more.

static inline LIBSSH2_SESSION *caas_ssh_session_init(void) { return libssh2_session_init_ex(NULL, NULL, NULL, NULL); }

static inline int caas_ssh_session_disconnect(LIBSSH2_SESSION *s, const char *why) {
    return libssh2_session_disconnect_ex(s, SSH_DISCONNECT_BY_APPLICATION, why, "");
}

static inline int caas_ssh_auth_publickey_file(LIBSSH2_SESSION *s, const char *user, const char *privkey, const char *passphrase) {
    return libssh2_userauth_publickey_fromfile_ex(s, user, (unsigned int)strlen(user), NULL, privkey, passphrase);
}

static inline LIBSSH2_SFTP_HANDLE *caas_sftp_open(LIBSSH2_SFTP *sftp, const char *path, unsigned long flags, long mode) {
    return libssh2_sftp_open_ex(sftp, path, (unsigned int)strlen(path), flags, mode, LIBSSH2_SFTP_OPENFILE);
}

static inline LIBSSH2_SFTP_HANDLE *caas_sftp_opendir(LIBSSH2_SFTP *sftp, const char *path) {
    return libssh2_sftp_open_ex(sftp, path, (unsigned int)strlen(path), 0, 0, LIBSSH2_SFTP_OPENDIR);
}

static inline int caas_sftp_readdir(LIBSSH2_SFTP_HANDLE *h, char *buf, size_t len, LIBSSH2_SFTP_ATTRIBUTES *attrs) {
    return libssh2_sftp_readdir_ex(h, buf, len, NULL, 0, attrs);
}

static inline int caas_sftp_close(LIBSSH2_SFTP_HANDLE *h) { return libssh2_sftp_close_handle(h); }

static inline int caas_sftp_stat(LIBSSH2_SFTP *sftp, const char *path, LIBSSH2_SFTP_ATTRIBUTES *attrs) {
    return libssh2_sftp_stat_ex(sftp, path, (unsigned int)strlen(path), LIBSSH2_SFTP_STAT, attrs);
}

static inline int caas_sftp_rename(LIBSSH2_SFTP *sftp, const char *from, const char *to) {
    // Plain SFTP rename: OpenSSH's server refuses to rename onto an existing file.
    return libssh2_sftp_rename_ex(sftp, from, (unsigned int)strlen(from), to, (unsigned int)strlen(to), 0);
}

static inline int caas_sftp_unlink(LIBSSH2_SFTP *sftp, const char *path) {
    return libssh2_sftp_unlink_ex(sftp, path, (unsigned int)strlen(path));
}

static inline int caas_sftp_mkdir(LIBSSH2_SFTP *sftp, const char *path, long mode) {
    return libssh2_sftp_mkdir_ex(sftp, path, (unsigned int)strlen(path), mode);
}

static inline int caas_sftp_is_regular(unsigned long permissions) { return LIBSSH2_SFTP_S_ISREG(permissions); }
static inline int caas_sftp_is_directory(unsigned long permissions) { return LIBSSH2_SFTP_S_ISDIR(permissions); }
#endif
