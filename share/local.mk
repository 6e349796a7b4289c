# share/ - man pages, completion and example files (grows with packaging).
dist_noinst_SCRIPTS += share/setup-debian.sh share/quickstart.sh
