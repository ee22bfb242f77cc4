// Fixture for the layering check: a module including only itself and std.
#pragma once
#include <string>
#include "core/status.h"
