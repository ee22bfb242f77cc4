#include "auth/secrets.h"

#include <sodium.h>

#include <array>

namespace sa {

Status init_secrets() {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  return Status::OK();
}

Result<std::string> hash_password(std::string_view password) {
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str(out.data(), password.data(), password.size(),
                        crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Status::ResourceExhausted("not enough memory to hash the password");
  }
  return std::string(out.data());
}

bool verify_password(std::string_view hash, std::string_view password) {
  // crypto_pwhash_str_verify wants a NUL-terminated string of at most STRBYTES.
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  const std::string h(hash);
  return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

std::string new_token(std::string_view prefix) {
  std::array<unsigned char, 32> raw{};
  randombytes_buf(raw.data(), raw.size());
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::array<char, sodium_base64_ENCODED_LEN(32, kVariant)> b64{};
  sodium_bin2base64(b64.data(), b64.size(), raw.data(), raw.size(), kVariant);
  sodium_memzero(raw.data(), raw.size());
  return std::string(prefix) + b64.data();
}

std::string token_hash(std::string_view token) {
  std::array<unsigned char, crypto_generichash_BYTES> h{};
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  std::array<char, crypto_generichash_BYTES * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), h.data(), h.size());
  return hex.data();
}

}  // namespace sa
