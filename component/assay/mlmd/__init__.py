"""mlmd"""
