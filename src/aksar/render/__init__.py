"""aksar.render"""
