"""
Redis: connections by URL (one server, Sentinel, Cluster), the script runner with `WAIT`,
Redis's clock, the shared base of script stores, and the embedded server for development. The
only package, with the capabilities' own store modules, that imports `redis`.
"""
