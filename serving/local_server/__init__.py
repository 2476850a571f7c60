"""A TF Serving-compatible model server for development and tests.

It speaks TF Serving's gRPC PredictionService / ModelService and its REST API over the
Pusher's model directory, so clients written for TF Serving run unchanged against it.
It is a stand-in: production serving is the tensorflow/serving image (serving/deploy/).
"""
