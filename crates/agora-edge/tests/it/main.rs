//! The agent end to end with real processes: its own Mosquitto broker, `agora serve` as the
//! node, and the `agora-edge` binary, killed and restarted while events stream in.

mod faults;
mod harness;
mod windows;
