//! A stateful emulator of the GitHub REST Contents API and Git Trees API, for tests.
