// SHA-256 (OpenSSL EVP) as lower-case hex.
#pragma once

#include <string>
#include <string_view>

namespace sa {

std::string sha256_hex(std::string_view data);

}  // namespace sa
