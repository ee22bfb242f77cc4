// Fixture for the layering check: a folder missing from the layer table.
#pragma once
