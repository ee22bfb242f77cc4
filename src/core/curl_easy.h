// The one libcurl wrapper, shared by the model downloads (hub/) and the VLM
// client (vlm/): RAII handles, the once-per-process global init, and the
// options every request of ours sets.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

namespace sa {

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// A new easy handle (after curl_global_init, run exactly once per process: it is
// not thread-safe in older libcurl) with the shared options set: no signals
// (required with timeouts in threads), User-Agent "smart-album/1.0", no proxy
// for localhost (a local model server is never reached through one), and
// `errbuf` (CURL_ERROR_SIZE chars, owned by the caller, emptied here) as the
// error buffer. Null if libcurl cannot make a handle.
CurlEasy curl_easy_new(char* errbuf);

// Appends a header line to `list` (kept as it was if libcurl cannot allocate).
void curl_add_header(CurlSlist& list, const std::string& line);

// Why a transfer failed: the error buffer if libcurl wrote one, else the code's text.
std::string curl_error_text(CURLcode code, const char* errbuf);

}  // namespace sa
