// Host names as the server judges them (no httplib here, so the CLI can ask
// too: `serve` refuses some flags unless the bind address is loopback).
#pragma once

#include <string>
#include <string_view>

namespace sa {

// "localhost", "*.localhost", "127.x.y.z", "::1" / "[::1]".
bool is_loopback_host(std::string_view host);
// A literal IPv4 or IPv6 address (with or without brackets). DNS rebinding
// needs a name, so an address typed by hand is always accepted.
bool is_ip_literal(std::string_view host);
// The host part of a Host header or of a URL's authority, lower case, no port.
std::string host_without_port(std::string_view authority);

}  // namespace sa
