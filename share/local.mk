# share/ - man pages, completion and example files (grows with packaging).
