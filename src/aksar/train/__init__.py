"""aksar.train"""
