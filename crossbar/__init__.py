"""memxbar.crossbar"""
