#ifndef CAAS_CCURL_SHIM_H
#define CAAS_CCURL_SHIM_H
#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed
// function per kind of argument, nothing more.
static inline CURLcode caas_curl_set_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode caas_curl_set_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode caas_curl_set_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode caas_curl_set_offset(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*caas_curl_data_callback)(char *data, size_t size, size_t count, void *context);
static inline CURLcode caas_curl_set_callback(CURL *h, CURLoption o, caas_curl_data_callback cb) { return curl_easy_setopt(h, o, cb); }

static inline CURLcode caas_curl_get_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }

// curl_share_setopt is variadic too.
typedef void (*caas_curl_lock_callback)(CURL *h, curl_lock_data data, curl_lock_access access, void *context);
typedef void (*caas_curl_unlock_callback)(CURL *h, curl_lock_data data, void *context);
static inline CURLSHcode caas_curl_share_set_long(CURLSH *s, CURLSHoption o, long v) { return curl_share_setopt(s, o, v); }
static inline CURLSHcode caas_curl_share_set_pointer(CURLSH *s, CURLSHoption o, void *v) { return curl_share_setopt(s, o, v); }
static inline CURLSHcode caas_curl_share_set_lock(CURLSH *s, caas_curl_lock_callback cb) { return curl_share_setopt(s, CURLSHOPT_LOCKFUNC, cb); }
static inline CURLSHcode caas_curl_share_set_unlock(CURLSH *s, caas_curl_unlock_callback cb) { return curl_share_setopt(s, CURLSHOPT_UNLOCKFUNC, cb); }
#endif
