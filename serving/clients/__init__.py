"""Clients for a TF Serving endpoint (real TF Serving or serving.local_server): gRPC on
tensorflow_serving.apis stubs, REST on TF Serving's HTTP API, and a command line."""
