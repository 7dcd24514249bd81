//! traffic-gen
