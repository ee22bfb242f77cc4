// Password hashing and secret tokens, all through libsodium (no crypto here).
//
// Passwords: Argon2id via crypto_pwhash_str with libsodium's "interactive"
// limits (ops 2, 64 MiB), a self-describing string ($argon2id$v=19$m=65536,t=2,p=1$...).
// Tokens: 32 random bytes (randombytes_buf) in URL-safe base64; what the
// database keeps is a BLAKE2b-256 hash of the token (crypto_generichash) in hex,
// so a copy of album.db holds no usable cookie or API token.
//
// Thread safety: every function may be called from any thread (init_secrets()
// first, once; it is idempotent).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace sa {

// sodium_init(); Internal if libsodium cannot start (no entropy source).
Status init_secrets();

// Argon2id hash string of `password`; ResourceExhausted if the memory is refused.
Result<std::string> hash_password(std::string_view password);
// True when `password` matches `hash` (constant-time inside libsodium); false
// for a malformed hash.
bool verify_password(std::string_view hash, std::string_view password);

// A new random secret: 32 bytes, URL-safe base64 without padding (43 chars),
// prefixed with `prefix` ("" for cookies, "sa_" for API tokens).
std::string new_token(std::string_view prefix = "");
// Hex BLAKE2b-256 of a token, the form kept in the database.
std::string token_hash(std::string_view token);

}  // namespace sa
