# Names every BUILD file can use (pants.toml: [GLOBAL].build_file_prelude_globs).

# The three service PEXes, for the tests that run them as processes.
SERVICE_PEXES = ("src/python/calc:calc", "src/python/gateway:gateway", "src/python/log:log")
