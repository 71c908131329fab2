"""The taxi-fare step library: pure, typed functions used by the step scripts."""
