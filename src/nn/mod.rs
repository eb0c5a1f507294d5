//! Layers, the model zoo, optimisers, training and checkpoints.

pub mod arch;
pub mod augment;
pub mod capacity;
pub mod checkpoint;
pub mod eval;
pub mod eval_merge;
pub mod fit;
pub mod layers;
pub mod model;
pub mod optim;
pub mod recipe;
pub mod train;

pub use arch::Arch;
pub use model::Model;
