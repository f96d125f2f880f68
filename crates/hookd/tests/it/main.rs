//! The end-to-end suite: one test binary, each test booting the real app on port 0 with a fresh
//! database, driving it over HTTP, with real local receivers standing in for customers.

mod harness;

mod cli_call;
mod conventions;
mod integration_calls;
mod integration_safety;
mod integrations;
mod upstream;
