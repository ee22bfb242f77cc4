// Fixture for the layering check: allowed downward and sideways includes.
#include "ingest/ingest.h"
#include "store/store.h"
