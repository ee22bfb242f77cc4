#include "core/curl_easy.h"

#include <mutex>

namespace sa {

CurlEasy curl_easy_new(char* errbuf) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CurlEasy h(curl_easy_init());
  if (!h) return h;
  CURL* c = h.get();
  errbuf[0] = '\0';
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "smart-album/1.0");
  curl_easy_setopt(c, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
  return h;
}

void curl_add_header(CurlSlist& list, const std::string& line) {
  curl_slist* next = curl_slist_append(list.get(), line.c_str());
  if (next != nullptr) {
    (void)list.release();
    list.reset(next);
  }
}

std::string curl_error_text(CURLcode code, const char* errbuf) {
  return errbuf != nullptr && errbuf[0] != '\0' ? errbuf : curl_easy_strerror(code);
}

}  // namespace sa
