"""memxbar.runtime"""
