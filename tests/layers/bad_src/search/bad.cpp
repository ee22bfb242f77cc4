// Fixture for the layering check: a sideways include that is not an allowed edge.
#include "jobs/job_runner.h"
#include "store/store.h"
