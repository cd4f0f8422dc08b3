"""``stpmap serve``: the postcode API and the searchable footprint map (FastAPI).

* ``app``: :func:`~stpmap.serve.app.create_app` and :func:`~stpmap.serve.app.serve`
  (``stpmap.create_app`` and ``stpmap.serve``).
* ``state``: what the service answers from, loaded once at start-up.
* ``routes_postcodes``, ``routes_footprints``, ``routes_pages``: the routes, by concern.
* ``schemas``: the shapes of requests and answers, for the OpenAPI description.
* ``errors``: every error answered as JSON; ``middleware``: security headers, CORS
  order, request limits and 500s; ``security``: the headers and Content-Security-Policies;
  ``protocol``: uvicorn's HTTP protocol with JSON refusals; ``responses``: JSON bytes.
"""
