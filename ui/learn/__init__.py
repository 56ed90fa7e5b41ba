"""Learn panels: views over the running model's tokens, next-token distribution and surprise.

Views only: they take the plain data of `core.engine.introspect` and emit the learner's intents
as signals; the window runs the engine calls on its worker thread and passes the results back.
"""
