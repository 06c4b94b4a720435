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
#endif
