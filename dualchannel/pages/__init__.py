"""Pages for the people who use the service: physicians, pharmacists and bureau staff (zh-CN).

The server sends static HTML shells; everything the pages show comes from the JSON API, called
by plain ES modules under `static/pages/` with the bearer token kept in sessionStorage.
"""
