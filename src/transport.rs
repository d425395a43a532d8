//! SSH transport: one verified connection per host, bounded command capture, paced handshakes.

pub mod known_hosts;
