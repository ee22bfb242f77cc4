// Fixture for the layering check: the store reaching up to the app facade
// and sideways to index (the store may include only core/).
#pragma once
#include "app/album.h"
#include "core/status.h"
#include "index/vector_index.h"
