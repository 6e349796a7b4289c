# tests/e2e/
