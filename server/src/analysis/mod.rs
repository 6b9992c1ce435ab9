//! Pure statistics over slices and sketches: no I/O, unit- and property-tested.
pub mod anomaly;
pub mod change;
pub mod robust;
pub mod shifts;
pub mod sketch;
pub mod trend;
pub mod whatif;
pub mod window;
