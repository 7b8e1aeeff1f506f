-- wrk: every request a POST (no body), with the command line's headers.
wrk.method = "POST"
