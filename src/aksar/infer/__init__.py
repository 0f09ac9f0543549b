"""aksar.infer"""
