"""The pytest face: the plugin, its options, the assertions, the summary, xdist and shard glue, benchmark hooks."""
