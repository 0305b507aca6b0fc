"""memxbar.compiler"""
